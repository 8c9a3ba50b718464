// Types for tools/chromium.js (imported by TypeScript tests).
export const CHROMIUM: string;
export const CHROMIUM_ARGS: string[];
export const WEBGPU_ON: string[];
export const WEBGPU_OFF: string[];
