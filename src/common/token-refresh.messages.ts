/** Log lines as named factories (as nestjs/schedule does): one place to read, no token ever in one. */
export const Messages = {
  started: (name: string, expiresAt: number) =>
    `"${name}" started; token expires at ${new Date(expiresAt).toISOString()}`,
  startedLapsed: (name: string, expiresAt: number) =>
    `"${name}" started with a token that expired at ${new Date(expiresAt).toISOString()} (while stopped); refreshing now`,
  startedKeyed: (name: string, keys: number) => `"${name}" started with ${keys} key(s) in memory`,
  stopped: (name: string) => `"${name}" stopped`,
  autoStartSkipped: (name: string, reason: string) => `"${name}" did not auto-start: ${reason}`,
  refreshed: (name: string, expiresAt: number, source: string) =>
    `"${name}" ${source === 'store' ? 'adopted tokens saved by another replica' : 'refreshed'}; expires at ${new Date(expiresAt).toISOString()}`,
  retrying: (name: string, code: string, attempt: number, delay: number) =>
    `"${name}" refresh failed (${code}), attempt ${attempt}; retrying in ${delay} ms`,
  episodeFailed: (name: string, code: string, message: string) =>
    `"${name}" refresh failed for good (${code}): ${message}`,
  reauthRequired: (name: string) =>
    `"${name}" needs re-authentication; no refresh will be sent until updateTokens() or start()`,
  reauthenticated: (name: string) => `"${name}" re-authenticated`,
  reauthFailed: (name: string, code: string) => `"${name}" reauthenticate() failed (${code})`,
  reauthUnavailable: (name: string) =>
    `"${name}" onRefreshFail returned true but no reauthenticate function is configured`,
  onRefreshFailThrew: (name: string) => `"${name}" onRefreshFail threw; treated as false`,
  expired: (name: string) => `"${name}" access token expired with no successful refresh`,
  storeFailed: (name: string, operation: string) =>
    `"${name}" token store ${operation} failed; new tokens are kept in memory and saving will be retried`,
  storeUnreadable: (name: string, reason: string) =>
    `"${name}" stored tokens are unreadable (${reason}); treated as absent, the next save replaces them`,
  storeConflict: (name: string) =>
    `"${name}" token store kept a newer pair than the one being saved; the newer pair will be adopted`,
  responseFieldDropped: (name: string, field: string) =>
    `"${name}" token response field ${field} was unusable and is ignored`,
  dueScanFailed: (name: string) => `"${name}" could not ask the token store for due keys; trying again at the next check`,
  revoked: (name: string) => `"${name}" refresh token revoked at the authorization server`,
  revokeFailed: (name: string, code: string) => `"${name}" could not revoke the refresh token (${code})`,
  storeRecovered: (name: string) => `"${name}" token store save succeeded after earlier failures`,
  abortedOnStop: (name: string, timeout: number) =>
    `"${name}" refresh still running after ${timeout} ms at stop; aborted`,
  lockReleaseFailed: (name: string) => `"${name}" could not release the refresh lock; its lease will expire`,
  watchFailed: (name: string) => `"${name}" tokens announced by another replica were invalid; ignored`,

  // ---------------------------------------------------------------- Redis (src/redis)
  // `label` names what uses the connection, as redisLabel builds it: `token store "myapp:crm"`.
  // `code` is a redisErrorCode: an identifier, never an ioredis message (it may quote a token).
  redisLabel: (kind: string, keyPrefix: string) => `${kind} "${keyPrefix}"`,
  redisSubscriberLabel: (label: string) => `${label} subscriber`,
  redisConnectionFailed: (label: string, code: string) => `${label}: connection failed (${code}); reconnecting`,
  redisConnectionRestored: (label: string) => `${label}: connection restored`,
  redisCommandFailed: (label: string, operation: string, code: string) => `${label} ${operation} failed (${code})`,
  redisSubscribeFailed: (label: string, code: string) => `${label}: subscribe failed (${code}); reconnecting`,
  redisWroteBack: (label: string) => `${label}: wrote back the newest tokens after reconnecting`,
  redisWatchListenerThrew: (label: string) => `${label}: a watch listener threw; ignored`,
  redisLockLost: (label: string, reason: string) => `${label} lost: ${reason}`,
};
