/**
 * The part of the WebAssembly JS API this runtime uses. TypeScript declares it only in the DOM library, which the
 * project does not load; Node provides it as a global.
 */
declare namespace WebAssembly {
  type Module = object & { readonly __wasmModule?: never };
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
  }
  type Imports = Record<string, Record<string, unknown>>;
  interface ModuleImportDescriptor {
    module: string;
    name: string;
    kind: string;
  }
  class RuntimeError extends Error {}
  class CompileError extends Error {}
  class LinkError extends Error {}
  const Module: {
    imports(module: Module): ModuleImportDescriptor[];
  };
  function compile(bytes: Uint8Array): Promise<Module>;
  function instantiate(module: Module, imports?: Imports): Promise<Instance>;
}
