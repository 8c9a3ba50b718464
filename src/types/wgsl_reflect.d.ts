// The package's `main` is a CommonJS build that Node's ESM loader cannot read
// named exports from; we import its ESM build, typed by the package's own types.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
