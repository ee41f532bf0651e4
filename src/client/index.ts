/** `optiq/client`: a typed client of the HTTP API that `optiq serve` and `createServer` expose. */
export { OptiqClient } from "./client.js";
export { EventStream } from "./event-stream.js";
export { ConnectionError, HttpError } from "./errors.js";
export { SseParser, readSse, type SseMessage } from "./sse.js";
export type {
  Health,
  HealthIssue,
  HttpSubmitOptions,
  Job,
  JobPage,
  JobState,
  ListFilter,
  OptiqClientOptions,
  RequestOptions,
  ResultOptions,
  Stats,
  StreamEvent,
  StreamEventName,
  StreamEvents,
  SubmitItem,
  Submitted,
} from "./types.js";
// the errors the client rethrows are the queue's own classes: catch them from here without importing the queue
export * from "../core/errors.js";
