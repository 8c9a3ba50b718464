// `nowt:shaders` exists only inside the browser bundle: tools/bundle.js
// resolves it to every shaders/*.wgsl file as text, keyed by name without
// the extension ({ matmul: '...', reduce: '...' }).
declare module 'nowt:shaders' {
  const shaders: Readonly<Record<string, string>>;
  export default shaders;
}
