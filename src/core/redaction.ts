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
