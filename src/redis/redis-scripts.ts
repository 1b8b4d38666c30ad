/*
 * Lua run with EVAL: each is atomic on the server, so no other client's command lands
 * between its read and its write. Each touches one key (plus a publish), so it also runs
 * on Redis Cluster.
 */

/**
 * Saves unless the stored pair is newer: a late or replayed save never replaces newer tokens.
 * Newer is compareTokenOrder in core/tokens.ts, mirrored here (a test checks they agree):
 * higher version, then later issuedAt, then later expiresAt. On a write, publishes the notice
 * on the channel. Returns 1 if written, 0 if not. A stored value that is not a record of the
 * known format (corrupt, or written by a newer release) is overwritten: it could never be loaded.
 * KEYS[1] token key; ARGV[1] record JSON; ARGV[2] its version; ARGV[3] its issuedAt (epoch ms);
 * ARGV[4] its expiresAt (epoch ms); ARGV[5] channel; ARGV[6] notice.
 */
export const SAVE_IF_NOT_OLDER = `
local version = tonumber(ARGV[2])
local issuedAt = tonumber(ARGV[3])
local expiresAt = tonumber(ARGV[4])
local current = redis.call('GET', KEYS[1])
if current then
  local ok, stored = pcall(cjson.decode, current)
  if ok and type(stored) == 'table' and stored.v == 1 and type(stored.version) == 'number'
    and type(stored.issuedAt) == 'number' and type(stored.expiresAt) == 'number' then
    local storedIsNewer
    if stored.version ~= version then
      storedIsNewer = stored.version > version
    elseif stored.issuedAt ~= issuedAt then
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
redis.call('PUBLISH', ARGV[5], ARGV[6])
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
