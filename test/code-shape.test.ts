/**
 * Code shape: no function, method, constructor, accessor or arrow body over MAX_LINES lines in the
 * project's code (infra/, tasks/, sandbox/, workflows/), counted from the body's opening to its closing
 * line with the TypeScript compiler's parser. A body counts whole, nested functions included: a
 * 400-line closure made of small handlers is still a 400-line room.
 *
 * The one exemption is a declarative table: a function whose body is nothing but `return` of an array or
 * object literal (or an arrow whose body is one), with no function inside it — data written as code,
 * e.g. the AWS managed policy documents the IAM emulator knows.
 *
 * In test/ the same limit holds for helpers (fixtures, harnesses, the bench, functions a suite defines),
 * not for test bodies: a callback handed to vitest's `describe`, `it`/`test` or a hook, or a suite factory
 * that calls `describe`/`it` itself, is not measured (the helpers inside it are).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const MAX_LINES = 80;
const ROOTS = ['infra', 'tasks', 'sandbox', 'workflows'];
const TEST_ROOT = 'test';
/** vitest's functions whose callback is a suite or test body (also as `it.each(…)`, `describe.skipIf(…)`). */
const TEST_BODY_CALLEES = new Set([
  'describe',
  'it',
  'test',
  'beforeAll',
  'beforeEach',
  'afterAll',
  'afterEach',
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.m?ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

function containsFunction(node: ts.Node): boolean {
  return ts.isFunctionLike(node) || (ts.forEachChild(node, containsFunction) ?? false);
}

/** An array or object literal with no function in it. */
function isTable(node: ts.Node | undefined): boolean {
  let n = node;
  while (n && (ts.isParenthesizedExpression(n) || ts.isAsExpression(n) || ts.isSatisfiesExpression(n)))
    n = n.expression;
  return !!n && (ts.isArrayLiteralExpression(n) || ts.isObjectLiteralExpression(n)) && !containsFunction(n);
}

/** The function's body is only a declarative table (see the file comment). */
function isDeclarativeTable(body: ts.Node): boolean {
  if (!ts.isBlock(body)) return isTable(body);
  const [only, ...rest] = body.statements;
  return rest.length === 0 && !!only && ts.isReturnStatement(only) && isTable(only.expression);
}

function nameOf(fn: ts.SignatureDeclaration, src: ts.SourceFile): string {
  if (fn.name) return fn.name.getText(src);
  const p = fn.parent;
  if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name)
    return p.name.getText(src);
  if (ts.isCallExpression(p)) return `callback of ${p.expression.getText(src).slice(0, 40)}`;
  return ts.isConstructorDeclaration(fn) ? 'constructor' : '(anonymous)';
}

interface LongFunction {
  where: string;
  lines: number;
}

/** The identifier a call chain starts from: `it` for `it(…)`, `it.each(…)(…)`, `describe.skipIf(x)(…)`. */
function calleeRoot(expr: ts.Expression): string | undefined {
  let n: ts.Expression = expr;
  while (ts.isPropertyAccessExpression(n) || ts.isCallExpression(n)) n = n.expression;
  return ts.isIdentifier(n) ? n.text : undefined;
}

/** A call of describe/it/test/a hook. */
function isTestCall(node: ts.Node): node is ts.CallExpression {
  return ts.isCallExpression(node) && TEST_BODY_CALLEES.has(calleeRoot(node.expression) ?? '');
}

/**
 * A test body, not a helper: a callback passed to describe/it/test/a hook, or a suite factory (a function
 * that itself calls describe or it at its top level, e.g. one suite run against several set-ups).
 */
function isTestBody(fn: ts.Node, body: ts.Node): boolean {
  if (
    ts.isBlock(body) &&
    body.statements.some((st) => ts.isExpressionStatement(st) && isTestCall(st.expression))
  )
    return true;
  const p = fn.parent;
  return (
    ts.isCallExpression(p) &&
    p.arguments.includes(fn as ts.Expression) &&
    TEST_BODY_CALLEES.has(calleeRoot(p.expression) ?? '')
  );
}

/** Every function-like body in `code` over `max` lines that is not a declarative table (nor, with `tests`, a test body). */
function longFunctions(file: string, code: string, max = MAX_LINES, tests = false): LongFunction[] {
  const src = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const body = node.body as ts.Node;
      const first = src.getLineAndCharacterOfPosition(body.getStart(src)).line;
      const last = src.getLineAndCharacterOfPosition(body.getEnd()).line;
      const lines = last - first + 1;
      if (lines > max && !isDeclarativeTable(body) && !(tests && isTestBody(node, body))) {
        found.push({ where: `${file}:${first + 1} ${nameOf(node, src)}`, lines });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return found;
}

describe('code shape', () => {
  it(`no function body over ${MAX_LINES} lines in ${ROOTS.join(', ')} (declarative tables aside)`, () => {
    const long = ROOTS.flatMap(sourceFiles).flatMap((f) => longFunctions(f, readFileSync(f, 'utf8')));
    expect(long.map((l) => `${l.where}: ${l.lines} lines`)).toEqual([]);
  });

  it(`no test helper over ${MAX_LINES} lines in ${TEST_ROOT}/ (test bodies aside)`, () => {
    const long = sourceFiles(TEST_ROOT).flatMap((f) =>
      longFunctions(f, readFileSync(f, 'utf8'), MAX_LINES, true),
    );
    expect(long.map((l) => `${l.where}: ${l.lines} lines`)).toEqual([]);
  });

  it('in test code, measures helpers but not the bodies handed to describe, it or a hook', () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const code = [
      `describe('s', () => {\n  const helper = () => {\n${body(85)}\n  };\n${body(85)}\n});`,
      `it.each([1])('t', () => {\n${body(85)}\n});`,
      `beforeAll(async () => {\n${body(85)}\n});`,
      `function fixture() {\n${body(85)}\n}`,
      `function suiteFactory() {\n  describe('s', () => {});\n${body(85)}\n}`,
    ].join('\n');
    const names = longFunctions('sample.test.ts', code, MAX_LINES, true).map((l) => l.where.split(' ')[1]);
    expect(names).toEqual(['helper', 'fixture']);
    expect(longFunctions('sample.test.ts', code).map((l) => l.where.split(' ')[1])).toContain('callback');
  });

  it('counts every kind of body, nested ones whole, and exempts only declarative tables', () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const code = [
      `function declared() {\n${body(79)}\n}`, // 81 lines with its braces: too long
      `const arrow = () => {\n${body(78)}\n};`, // 80: fits
      `class C {\n  method() {\n${body(85)}\n  }\n}`,
      `function outer() {\n  const inner = () => 1;\n${body(85)}\n}`,
      `function table() {\n  return [\n${Array.from({ length: 90 }, (_, i) => `    { id: ${i} },`).join('\n')}\n  ];\n}`,
      `function tableWithCode() {\n  return {\n    f: () => 1,\n${Array.from({ length: 90 }, (_, i) => `    k${i}: ${i},`).join('\n')}\n  };\n}`,
    ].join('\n');
    const names = longFunctions('sample.ts', code).map((l) => `${l.where.split(' ')[1]}:${l.lines}`);
    expect(names).toEqual(['declared:81', 'method:87', 'outer:88', 'tableWithCode:95']);
  });
});
