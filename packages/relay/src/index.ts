// Our public types use Buffer; this reference (kept in dist/index.d.ts) loads Node's types for
// consumers whose tsconfig does not auto-include them ("types": [], the TypeScript 7 default).
/// <reference types="node" preserve="true" />

export {};
