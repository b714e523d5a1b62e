/**
 * The console over HTTP: `GET /console` (the page), `/console/app.js` (the view, bundled once with esbuild
 * from page/app.ts: preact + htm + @dagrejs/dagre, all from node_modules, so it works offline),
 * `/console/api/executions?status&outcome&rule&resource&account&since&until`,
 * `/console/api/executions/<name>` and `/console/api/fleet`. GET only; nothing it calls writes.
 * Mounted on the sandbox's endpoint (sandbox/main.ts) and served alone by `drift-remediation console`.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawHttpRequest, RawHttpResponse } from '../core/types';
import type { ConsoleData, ConsoleDeps, ExecutionFilter } from './data';
import { fleetView } from './fleet';

export const CONSOLE_PREFIX = '/console';

const HERE = dirname(fileURLToPath(import.meta.url));

let bundle: Promise<string> | undefined;

/** The page's script: page/app.ts and its libraries in one minified ES module. */
export function appBundle(): Promise<string> {
  bundle ??= import('esbuild').then(async (esbuild) => {
    const r = await esbuild.build({
      entryPoints: [join(HERE, 'page', 'app.ts')],
      bundle: true,
      format: 'esm',
      minify: true,
      write: false,
      target: 'es2022',
      logLevel: 'silent',
    });
    return r.outputFiles[0]?.text ?? '';
  });
  return bundle;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const text = (status: number, type: string, body: string): RawHttpResponse => ({
  status,
  headers: { 'content-type': type, ...SECURITY_HEADERS },
  body,
});
const json = (status: number, value: unknown) =>
  text(status, 'application/json; charset=utf-8', JSON.stringify(value));

function filterOf(q: URLSearchParams): ExecutionFilter {
  const f: ExecutionFilter = {};
  for (const k of ['status', 'outcome', 'rule', 'resource', 'account', 'since', 'until'] as const) {
    const v = q.get(k)?.trim();
    if (v) f[k] = v;
  }
  return f;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>drift-remediation console</title>
<link rel="stylesheet" href="${CONSOLE_PREFIX}/console.css">
<script type="module" src="${CONSOLE_PREFIX}/app.js"></script>
</head>
<body><div id="app"><p>Loading…</p></div></body>
</html>`;

/** The route handler; errors become a JSON `{ error }` with the call's status (never a stack). */
export function consoleRoute(data: ConsoleData, deps: ConsoleDeps) {
  return async (req: RawHttpRequest): Promise<RawHttpResponse> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'text/plain', 'read-only: GET only');
    const path = req.path.replace(/\/+$/, '');
    try {
      if (path === CONSOLE_PREFIX) return text(200, 'text/html; charset=utf-8', PAGE);
      if (path === `${CONSOLE_PREFIX}/app.js`)
        return text(200, 'text/javascript; charset=utf-8', await appBundle());
      if (path === `${CONSOLE_PREFIX}/console.css`)
        return text(200, 'text/css; charset=utf-8', await styles());
      if (path === `${CONSOLE_PREFIX}/api/executions`)
        return json(200, await data.executions(filterOf(req.query)));
      if (path.startsWith(`${CONSOLE_PREFIX}/api/executions/`)) {
        const name = decodeURIComponent(path.slice(`${CONSOLE_PREFIX}/api/executions/`.length));
        return json(200, await data.execution(name));
      }
      if (path === `${CONSOLE_PREFIX}/api/fleet`) return json(200, await fleetView(data, deps));
      return text(404, 'text/plain', 'not found');
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.name === 'ExecutionDoesNotExist' ? 404 : (e.$metadata?.httpStatusCode ?? 500);
      return json(status >= 400 ? status : 500, {
        error: `${e.name ?? 'Error'}: ${e.message ?? String(err)}`,
      });
    }
  };
}

let css: Promise<string> | undefined;
function styles(): Promise<string> {
  css ??= import('node:fs/promises').then((fs) => fs.readFile(join(HERE, 'page', 'console.css'), 'utf8'));
  return css;
}
