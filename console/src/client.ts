// The urql client: HTTP for queries and mutations, graphql-ws (graphql-transport-ws) for subscriptions, both with
// the session's bearer token; every document goes with its persisted hash (Apollo APQ's
// `extensions.persistedQuery.sha256Hash`) and its exact text, so it works whether or not the server keeps
// persisted documents.
import { Client, cacheExchange, fetchExchange, mapExchange, subscriptionExchange, type Operation } from "@urql/core";
import { createClient as createWSClient, type Client as WSClient } from "graphql-ws";
import persisted from "./gql/persisted-documents.json";
import { currentToken, saveSession } from "./session";

const manifest = persisted as Record<string, string>;

function persistedHash(operation: Operation): string | undefined {
  const meta = (operation.query as unknown as { __meta__?: { hash?: string } }).__meta__;
  return meta?.hash && manifest[meta.hash] ? meta.hash : undefined;
}

/** The body's `query` becomes the manifest's text of the hash it carries, byte for byte (sha256(text) = hash). */
function withPersistedText<T extends { query?: string; extensions?: Record<string, unknown> }>(body: T): T {
  const hash = (body.extensions?.persistedQuery as { sha256Hash?: string } | undefined)?.sha256Hash;
  return hash && manifest[hash] ? { ...body, query: manifest[hash] } : body;
}

const persistedFetch: typeof fetch = (input, init) => {
  if (init && typeof init.body === "string") {
    init = { ...init, body: JSON.stringify(withPersistedText(JSON.parse(init.body))) };
  }
  return fetch(input, init);
};

const SESSION_ENDED = "Your session has ended (expired or signed out elsewhere); sign in again.";

let wsClient: WSClient | null = null;

function websocket(): WSClient {
  if (!wsClient) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    wsClient = createWSClient({
      url: `${scheme}//${location.host}/graphql`,
      connectionParams: () => ({ Authorization: `Bearer ${currentToken() ?? ""}` }),
      lazy: true,
      retryAttempts: 5,
      shouldRetry: (event) => !(event && typeof event === "object" && "code" in event && event.code === 4403),
      on: {
        closed: (event) => {
          if (event && typeof event === "object" && "code" in event && event.code === 4403 && currentToken()) {
            saveSession(null, SESSION_ENDED);
          }
        },
      },
    });
  }
  return wsClient;
}

export function resetWebSocket(): void {
  wsClient?.dispose();
  wsClient = null;
}

export function makeClient(): Client {
  return new Client({
    url: "/graphql",
    preferGetMethod: false,
    requestPolicy: "cache-and-network",
    fetch: persistedFetch,
    fetchOptions: (): RequestInit => {
      const token = currentToken();
      const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
      return { headers };
    },
    exchanges: [
      mapExchange({
        onOperation(operation) {
          const hash = persistedHash(operation);
          if (!hash) return operation;
          operation.extensions = { ...operation.extensions, persistedQuery: { version: 1, sha256Hash: hash } };
          return operation;
        },
        onResult(result) {
          const unauthenticated = result.error?.graphQLErrors.some((e) => e.extensions?.code === "UNAUTHENTICATED");
          if (unauthenticated && currentToken()) saveSession(null, SESSION_ENDED);
          return result;
        },
      }),
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const body = withPersistedText({ ...request, query: request.query || "" });
          return {
            subscribe(sink) {
              const unsubscribe = websocket().subscribe(body, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
}
