/**
 * Where a request really goes, decided the way axios decides it (core/buildFullPath): an
 * absolute URL (`scheme://...` or protocol-relative `//...`) replaces baseURL unless
 * allowAbsoluteUrls is false; anything else is appended to baseURL. Copying that rule, rather
 * than trusting config.baseURL, is what keeps the token off `http.get('https://elsewhere/...')`.
 */
const ABSOLUTE_URL = /^([a-z][a-z\d+\-.]*:)?\/\//i;

export function resolveRequestUrl(
  baseURL: string | undefined,
  url: string | undefined,
  allowAbsoluteUrls: boolean | undefined,
): string | undefined {
  if (url !== undefined && typeof url !== 'string') return undefined;
  const absolute = url !== undefined && ABSOLUTE_URL.test(url);
  if (baseURL && (!absolute || allowAbsoluteUrls === false)) {
    if (!url) return baseURL;
    return `${baseURL.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`;
  }
  return url;
}

/** The origin of an absolute http(s) URL; undefined for anything else, so unknown means "not ours". */
export function originOf(url: string | undefined): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

/** True only when the request resolves to exactly `allowedOrigin` (scheme, host and port). */
export function isAllowedOrigin(
  allowedOrigin: string,
  request: { baseURL?: string; url?: string; allowAbsoluteUrls?: boolean },
): boolean {
  return originOf(resolveRequestUrl(request.baseURL, request.url, request.allowAbsoluteUrls)) === allowedOrigin;
}
