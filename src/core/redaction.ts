/**
 * Objects that hold tokens or secrets print a summary instead of their fields, so a stray
 * `logger.log(service)` or `JSON.stringify(client)` cannot leak them.
 */
export function redactedInspect(className: string, summary: Record<string, unknown>): string {
  const fields = Object.entries(summary)
    .map(([key, value]) => `${key}: ${value instanceof Date ? value.toISOString() : JSON.stringify(value)}`)
    .join(', ');
  return `${className} { ${fields} }`;
}

/**
 * Gives a class the redacted `util.inspect` and `JSON.stringify` forms from one summary, so
 * the trio is written once: `class X extends Redacted { protected redactedSummary() {...} }`.
 */
export abstract class Redacted {
  protected abstract redactedSummary(): object;

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return redactedInspect(this.constructor.name, this.redactedSummary() as Record<string, unknown>);
  }

  toJSON(): object {
    return this.redactedSummary();
  }
}

export const REDACTED = '[redacted]';

/** Longest text from outside (a server's error_description, a foreign error's message) kept in an error. */
export const MAX_FOREIGN_TEXT = 200;

/** Shorter secrets are not searched for: they would match innocent text. */
const MIN_SECRET_LENGTH = 4;
/** A base64 run shorter than this is too likely to occur by chance. */
const MIN_BASE64_RUN = 8;

/**
 * Text from outside, made safe for a message or a log line: every secret blanked in each form a
 * server may echo it in, control and bidi characters dropped, whitespace folded, and the length
 * capped (after redacting, so a cut cannot leave a recognisable prefix of a secret behind).
 */
export function scrubText(text: string, secrets: readonly (string | undefined)[], max = MAX_FOREIGN_TEXT): string {
  let out = redactSecrets(text, secrets);
  out = out
    .replace(/[\p{Cc}\u200E\u200F\u202A-\u202E\u2066-\u2069]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(out); // code points, so a surrogate pair is never split
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : out;
}

/**
 * Blanks each secret as it appears raw, URL-encoded, form-encoded, JSON-escaped, and inside
 * base64 (standard or url-safe, at any alignment, of its raw or form-encoded bytes): the last
 * covers an echoed `Authorization: Basic base64(id:secret)` (RFC 6749 section 2.3.1).
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let result = text;
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) continue;
    const forms = new Set([secret, encodeURIComponent(secret), formEncode(secret), JSON.stringify(secret).slice(1, -1)]);
    const variants = new Set(forms);
    for (const form of forms) for (const run of base64Runs(form)) variants.add(run);
    // Longest first, so a shorter form inside a longer one does not break the longer match.
    for (const variant of [...variants].sort((a, b) => b.length - a.length)) {
      if (variant.length >= MIN_SECRET_LENGTH) result = result.split(variant).join(REDACTED);
    }
  }
  return result;
}

/** application/x-www-form-urlencoded serialisation of one value, exactly as URLSearchParams does it. */
export function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/**
 * The base64 characters that encode `value` and nothing else, whatever the number of bytes
 * before it (0, 1 or 2 modulo 3), in both alphabets.
 */
function base64Runs(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const runs: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    // Whole 3-byte groups made only of the value's bytes.
    const firstGroup = offset === 0 ? 0 : 1;
    const lastGroup = Math.floor(padded.length / 3);
    if (lastGroup - firstGroup < 1) continue;
    const run = padded.toString('base64').slice(firstGroup * 4, lastGroup * 4);
    if (run.length < MIN_BASE64_RUN) continue;
    runs.push(run, run.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return runs;
}
