export {
  sandboxHandler,
  sandboxDefineOptions,
  isSandboxedHandler,
  resolveSandboxSpec,
  HARD_STOP_MARGIN_MS,
  type SandboxSpec,
  type ResolvedSandboxSpec,
  type SandboxHandlerOptions,
  type SandboxedHandler,
} from "./handler.js";
export { SandboxPool, type Isolation, type SandboxResourceLimits } from "./pool.js";
