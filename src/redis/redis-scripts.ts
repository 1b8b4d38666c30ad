/*
 * Lua run with EVAL: each is atomic on the server, so no other client's command lands
 * between its read and its write. Each touches one key (plus a publish), so it also runs
 * on Redis Cluster.
 */

/**
 * Saves unless the stored pair expires later: a late or replayed save never replaces newer
 * tokens. On a write, publishes the notice on the channel. Returns 1 if written, 0 if not.
 * KEYS[1] token key; ARGV[1] record JSON; ARGV[2] its expiresAt (epoch ms); ARGV[3] channel; ARGV[4] notice.
 * An unreadable stored value is overwritten: it could never be loaded anyway.
 */
export const SAVE_IF_NOT_OLDER = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, stored = pcall(cjson.decode, current)
  if ok and type(stored) == 'table' and type(stored.expiresAt) == 'number' and stored.expiresAt > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`;

/** Deletes the lock only if this owner still holds it. KEYS[1] lock key; ARGV[1] owner. Returns 1 or 0. */
export const RELEASE_IF_OWNER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/** Extends the lease only if this owner still holds it. KEYS[1] lock key; ARGV[1] owner; ARGV[2] lease ms. Returns 1 or 0. */
export const RENEW_IF_OWNER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;
