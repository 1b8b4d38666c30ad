/*
 * Lua run with EVAL: each is atomic on the server, so no other client's command lands
 * between its read and its write. Each touches one key (plus a publish), so it also runs
 * on Redis Cluster.
 */

/**
 * Saves unless the stored pair is newer: a late or replayed save never replaces newer tokens.
 * Newer means obtained later (issuedAt); expiry breaks ties, and orders the two alone when
 * either has no issuedAt (a record from before it was kept). This mirrors compareOrder in
 * redis-token.serialization.ts, which explains why. On a write, publishes the notice on the
 * channel. Returns 1 if written, 0 if not.
 * KEYS[1] token key; ARGV[1] record JSON; ARGV[2] its issuedAt (epoch ms, or '' when unknown);
 * ARGV[3] its expiresAt (epoch ms); ARGV[4] channel; ARGV[5] notice.
 * An unreadable stored value is overwritten: it could never be loaded anyway.
 */
export const SAVE_IF_NOT_OLDER = `
local issuedAt = tonumber(ARGV[2])
local expiresAt = tonumber(ARGV[3])
local current = redis.call('GET', KEYS[1])
if current then
  local ok, stored = pcall(cjson.decode, current)
  if ok and type(stored) == 'table' and type(stored.expiresAt) == 'number' then
    local storedIsNewer
    if issuedAt and type(stored.issuedAt) == 'number' and stored.issuedAt ~= issuedAt then
      storedIsNewer = stored.issuedAt > issuedAt
    else
      storedIsNewer = stored.expiresAt > expiresAt
    end
    if storedIsNewer then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[5])
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
