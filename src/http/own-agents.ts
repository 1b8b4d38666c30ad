import { Agent as HttpAgent, type AgentOptions } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';

/** The settings of Node's global agents, so only the pool changes for an app that set none. */
const GLOBAL_AGENT_OPTIONS: AgentOptions = { keepAlive: true, scheduling: 'lifo', timeout: 5000 };

/** The two agent options of an axios config. */
export interface AgentConfig {
  httpAgent?: unknown;
  httpsAgent?: unknown;
}

/**
 * The connection pools of one authenticated HttpService, for requests to its origin (and their
 * redirects) only. A pooled socket keeps the request it carries (Node's `_httpMessage`) and, after
 * it settled, axios' `Symbol(axios.http.currentReq)` (follow-redirects never emits the `close`
 * that would clear it); that request holds the Authorization it sent. Every request on a pool
 * reaches the pool through its `agent`, so sharing the app's pool (Node's global agents by
 * default) made the token reachable from the app's own responses and errors. With pools of
 * their own, only objects of this module lead to these sockets.
 *
 * An agent the app configured lends its options, such as TLS settings, to a pool of our own;
 * the app's agent itself still serves every other origin.
 */
export class OwnAgents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;

  constructor(private readonly configured: AgentConfig) {
    this.http = new HttpAgent(optionsOf(configured.httpAgent));
    this.https = new HttpsAgent(optionsOf(configured.httpsAgent));
  }

  /**
   * A request to the origin that sets an agent of its own is refused before it is sent: its
   * pool may be the app's, and the module only vouches for the agents it was configured with.
   */
  check(config: AgentConfig): void {
    for (const option of ['httpAgent', 'httpsAgent'] as const) {
      if (config[option] !== this.configured[option]) {
        throw new TokenRefreshConfigError(
          option,
          `TokenRefreshHttpModule: a per-request ${option} is not supported on requests to baseURL; set it in the module options`,
        );
      }
    }
  }

  /** Sends `config` through these pools; the function returned puts the app's agents back. */
  assign(config: AgentConfig): () => void {
    const { httpAgent, httpsAgent } = config;
    config.httpAgent = this.http;
    config.httpsAgent = this.https;
    return () => {
      restore(config, 'httpAgent', httpAgent);
      restore(config, 'httpsAgent', httpsAgent);
    };
  }

  /** Closes every connection, idle or not. */
  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

function optionsOf(agent: unknown): AgentOptions {
  // `options` is what the agent was built with; axios reads it the same way for its proxy tunnels.
  return agent instanceof HttpAgent ? { ...(agent as HttpsAgent).options } : GLOBAL_AGENT_OPTIONS;
}

/** Leaves the config as axios built it: without the key when it had none. */
function restore(config: AgentConfig, key: keyof AgentConfig, value: unknown): void {
  if (value === undefined) delete config[key];
  else config[key] = value;
}
