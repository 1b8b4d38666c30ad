/*
 * Lua run with EVAL: each is atomic on the server, so no other client's command lands
 * between its read and its write. A single registration's scripts touch one key (plus a
 * publish), so they also run on Redis Cluster; a keyed store's touch a key's record and the
 * due index, which on Redis Cluster needs a hash tag in the key prefix (see README).
 */

/**
 * Whether the stored record is newer than the pair being saved: compareTokenOrder in
 * core/tokens.ts, mirrored here (a test checks they agree): higher version, then later
 * issuedAt, then later expiresAt. A stored value that is not a record of the known format
 * (corrupt, or written by a newer release) is not newer: it could never be loaded, so a save
 * replaces it.
 */
const STORED_IS_NEWER = `
local function storedIsNewer(current, version, issuedAt, expiresAt)
  if not current then
    return false
  end
  local ok, stored = pcall(cjson.decode, current)
  if not (ok and type(stored) == 'table' and stored.v == 1 and type(stored.version) == 'number'
    and type(stored.issuedAt) == 'number' and type(stored.expiresAt) == 'number') then
    return false
  end
  if stored.version ~= version then
    return stored.version > version
  elseif stored.issuedAt ~= issuedAt then
    return stored.issuedAt > issuedAt
  end
  return stored.expiresAt > expiresAt
end
`;

/**
 * Saves unless the stored pair is newer: a late or replayed save never replaces newer tokens.
 * On a write, publishes the notice on the channel. Returns 1 if written, 0 if not.
 * KEYS[1] token key; ARGV[1] record JSON; ARGV[2] its version; ARGV[3] its issuedAt (epoch ms);
 * ARGV[4] its expiresAt (epoch ms); ARGV[5] channel; ARGV[6] notice.
 */
export const SAVE_IF_NOT_OLDER = `${STORED_IS_NEWER}
if storedIsNewer(redis.call('GET', KEYS[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`;

/**
 * SAVE_IF_NOT_OLDER for one key of a keyed store: on a write, the key's score in the due index
 * becomes the new pair's refresh instant, in the same step. Returns 1 if written, 0 if not.
 * KEYS[1] the key's record; KEYS[2] the due index; ARGV[1..6] as SAVE_IF_NOT_OLDER; ARGV[7] the
 * key's member in the index (the escaped key); ARGV[8] its refresh instant (epoch ms).
 */
export const SAVE_KEYED_IF_NOT_OLDER = `${STORED_IS_NEWER}
if storedIsNewer(redis.call('GET', KEYS[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[8], ARGV[7])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
`;

/** Deletes a key's record and its entry in the due index together. KEYS[1] record; KEYS[2] due index; ARGV[1] its member there. */
export const DELETE_KEYED = `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;

/**
 * The keys due before ARGV[1] (epoch ms), earliest first, at most ARGV[2] of them; each is
 * claimed for the caller: its score moves past where other replicas' scans look until ARGV[4]
 * ms after its refresh instant (or after now, ARGV[3], if that has passed). Scans run with the
 * same horizon (before - now) on every replica, so the new score is that horizon plus the
 * claim's end. A save of the key sets its real refresh instant again.
 * KEYS[1] due index; ARGV[1] before; ARGV[2] limit; ARGV[3] now; ARGV[4] claim (ms).
 */
export const CLAIM_DUE_KEYS = `
local before = tonumber(ARGV[1])
local now = tonumber(ARGV[3])
local claim = tonumber(ARGV[4])
local horizon = math.max(before - now, 0)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local keys = {}
for i = 1, #due, 2 do
  local claimEnd = math.max(tonumber(due[i + 1]), now) + claim
  redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', claimEnd + horizon), due[i])
  keys[#keys + 1] = due[i]
end
return keys
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
