import { OnairError } from "@onair/core";

/** Errors of the control API's setup (a bad option), with stable codes. */
export class ApiError extends OnairError {}

export const ApiErrorCode = {
  /** An option of `createApiHandler` is invalid (a JWT algorithm we do not know, an empty secret). */
  badOption: "ERR_API_BAD_OPTION",
  /** A live channel was ended by `/control/delete`. */
  channelDeleted: "ERR_API_CHANNEL_DELETED",
} as const;
