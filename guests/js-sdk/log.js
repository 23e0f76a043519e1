// Logging through the host: lines are tagged with the adapter's name and respect the gateway's
// log level. Never log credentials or request bodies.
import { log } from "wasmgate:provider/logging@0.2.0";

/** A debug line. */
export const debug = (message) => log("debug", message);
/** An informational line. */
export const info = (message) => log("info", message);
/** A warning. */
export const warn = (message) => log("warn", message);
/** An error line. */
export const error = (message) => log("error", message);
