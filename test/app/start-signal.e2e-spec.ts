import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm start` as Docker, `timeout` or a process manager runs it: a signal sent to the npm
 * process itself (not to a terminal's process group) must reach the app, which shuts down
 * in order and exits 0, leaving no process behind. Meanwhile it serves /metrics.
 */
const ROOT = resolve(__dirname, '../..');

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('ends on a %s sent to its own pid', async (signal) => {
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', AUTH_PORT: '0', API_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      npm.once('exit', (code, exitSignal) => done({ code, signal: exitSignal })),
    );
    const ready = new Promise<void>((done, fail) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('try: curl')) done();
      };
      npm.stdout.on('data', onData);
      npm.stderr.on('data', onData);
      void exited.then(() => fail(new Error(`npm start exited before it was ready:\n${output}`)));
    });
    let appPid = 0;
    try {
      await ready;
      // Nest prefixes every log line with the app's pid.
      appPid = Number(/\[Nest\] (\d+)/.exec(output)![1]);
      expect(appPid).not.toBe(npm.pid);
      // The metrics SDK is in place before the app: its registration shows on /metrics.
      const url = /app +(http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1];
      const metrics = await fetch(`${url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('token_refresh_credential_count{token_refresh_registration="default",token_refresh_state="idle"');

      npm.kill(signal);
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(output).toContain('"default" stopped');
      expect(output).toContain('authorization server and protected API closed; bye');
      expect(isAlive(appPid)).toBe(false);
    } finally {
      // Should the signal not get through, neither npm nor the app outlives the test.
      if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
      if (appPid && isAlive(appPid)) process.kill(appPid, 'SIGKILL');
    }
  }, 90_000);
});
