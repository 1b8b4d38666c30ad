import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenRefreshAttributes, TokenRefreshMetrics } from '../../src/otel';
import { containsAnySecret, secretsOf, type Stack, startStack } from './stack';

const DASHBOARD = resolve(__dirname, '../../examples/grafana/token-refresh-dashboard.json');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  type: string;
  unit?: string;
  samples: Sample[];
}

/** The Prometheus text format, as a scrape reads it: families by name, with their samples. */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    if (!families.has(name)) families.set(name, { type: 'untyped', samples: [] });
    return families.get(name)!;
  };
  for (const line of text.split('\n')) {
    const meta = /^# (TYPE|UNIT) (\S+) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') family(meta[2]).type = meta[3];
      else family(meta[2]).unit = meta[3];
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!sample || line.startsWith('#')) continue;
    const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    const owner = [...families.keys()].find((name) => sample[1] === name || new RegExp(`^${name}_(bucket|sum|count)$`).test(sample[1]));
    family(owner ?? sample[1]).samples.push({ name: sample[1], labels, value: Number(sample[3]) });
  }
  return families;
}

/** How the example's exporter names a metric: dots as underscores, `_total` on counters. */
function prometheusName(name: string, counter: boolean): string {
  return `${name.replace(/\./g, '_')}${counter ? '_total' : ''}`;
}
const label = (attribute: string): string => attribute.replace(/\./g, '_');
const COUNTERS = new Set<string>([
  TokenRefreshMetrics.REFRESHES,
  TokenRefreshMetrics.FAILURES,
  TokenRefreshMetrics.REAUTH_REQUIRED,
  TokenRefreshMetrics.KEY_EVICTIONS,
  TokenRefreshMetrics.ACCESS_TOKEN_READS,
]);
const DOCUMENTED = new Map(Object.values(TokenRefreshMetrics).map((name) => [prometheusName(name, COUNTERS.has(name)), name]));

describe('example app: GET /metrics (Prometheus) and the Grafana dashboard', () => {
  let stack: Stack;
  beforeEach(async () => {
    stack = await startStack({ accessTokenTtl: 300, metrics: true });
  });
  afterEach(async () => {
    await stack.close();
  });

  /** A refresh, a call through the authenticated HttpService, then a dead grant. */
  async function exercise(): Promise<{ text: string; families: Map<string, Family>; secrets: string[] }> {
    await stack.service.forceRefresh();
    await request(stack.server).get('/demo').expect(200);
    const secrets = secretsOf(stack);
    await stack.auth.revokeGrant(stack.issued.grantId);
    await stack.service.forceRefresh().catch(() => undefined);
    const res = await request(stack.server).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    return { text: res.text, families: parseExposition(res.text), secrets };
  }

  it('lists every metric of a single registration with its unit, type and attributes, and no token or secret', async () => {
    const { text, families, secrets } = await exercise();
    const get = (name: string, counter = COUNTERS.has(name)): Family => {
      const found = families.get(prometheusName(name, counter));
      if (!found) throw new Error(`/metrics has no ${prometheusName(name, counter)}`);
      return found;
    };
    const registration = { [label(TokenRefreshAttributes.REGISTRATION)]: 'default' };
    const attempt = { ...registration, token_refresh_grant_type: 'refresh_token', token_refresh_trigger: 'forced' };

    expect(get(TokenRefreshMetrics.REFRESH_DURATION)).toMatchObject({ type: 'histogram', unit: 's' });
    expect(get(TokenRefreshMetrics.REFRESH_DURATION).samples).toContainEqual(
      expect.objectContaining({ name: 'token_refresh_refresh_duration_count', labels: expect.objectContaining({ ...attempt, token_refresh_outcome: 'success' }), value: 1 }),
    );
    expect(get(TokenRefreshMetrics.REFRESHES)).toMatchObject({ type: 'counter', unit: '{refresh}' });
    expect(get(TokenRefreshMetrics.REFRESHES).samples.map((s) => [s.labels.token_refresh_outcome, s.value])).toEqual([
      ['success', 1],
      ['oauth_error', 1],
    ]);
    expect(get(TokenRefreshMetrics.FAILURES).samples).toEqual([
      expect.objectContaining({ labels: expect.objectContaining({ ...attempt, token_refresh_outcome: 'oauth_error', token_refresh_oauth_error: 'invalid_grant' }), value: 1 }),
    ]);
    expect(get(TokenRefreshMetrics.REAUTH_REQUIRED).samples).toEqual([expect.objectContaining({ labels: expect.objectContaining(registration), value: 1 })]);
    expect(get(TokenRefreshMetrics.TIME_UNTIL_EXPIRY)).toMatchObject({ type: 'gauge', unit: 's' });
    expect(get(TokenRefreshMetrics.TIME_UNTIL_EXPIRY).samples[0].value).toBeGreaterThan(250);
    expect(get(TokenRefreshMetrics.CREDENTIALS)).toMatchObject({ type: 'gauge', unit: '{credential}' });
    expect(get(TokenRefreshMetrics.CREDENTIALS).samples.find((s) => s.labels.token_refresh_state === 'reauth-required')?.value).toBe(1);
    expect(get(TokenRefreshMetrics.ACCESS_TOKEN_READS).samples.find((s) => s.labels.token_refresh_read_outcome === 'fresh')?.value).toBeGreaterThanOrEqual(1);
    // Lock waits (cluster mode) and keys (keyed registrations) do not apply to the example's registration.
    expect([...families.keys()].filter((name) => name.startsWith('token_refresh_') && !DOCUMENTED.has(name))).toEqual([]);
    expect(containsAnySecret(text, secrets)).toBe(false);
  });

  it('the dashboard plots refresh outcomes, duration and time until expiry from what /metrics has, and names only documented metrics and labels', async () => {
    const { families } = await exercise();
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
      templating: { list: Array<{ definition: string }> };
    };
    const exprs = [...dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr)), ...dashboard.templating.list.map((v) => v.definition)];
    const series = new Set(exprs.flatMap((expr) => [...expr.matchAll(/\b(token_refresh_\w+?)(?:_bucket)?[{,)]/g)].map((m) => m[1])));
    const metricNames = [...series].filter((name) => DOCUMENTED.has(name));
    const labels = [...series].filter((name) => !DOCUMENTED.has(name));
    expect(labels.filter((name) => !Object.values(TokenRefreshAttributes).map(label).includes(name))).toEqual([]);
    expect(metricNames.length).toBe(DOCUMENTED.size);

    const plotted = (title: string): string[] =>
      dashboard.panels.find((panel) => panel.title === title)!.targets.flatMap((target) => [...target.expr.matchAll(/(token_refresh_\w+?)(?:_bucket)?\{/g)].map((m) => m[1]));
    for (const title of ['Refresh outcomes', 'Refresh duration', 'Time until expiry']) {
      const names = plotted(title);
      expect(names.length, title).toBeGreaterThan(0);
      expect(names.filter((name) => !families.has(name)), title).toEqual([]);
    }
  });
});
