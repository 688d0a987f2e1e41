// A minimal Elixir release for the e2e suite, built as a team would: `mix release` with Debian's elixir,
// no Hex and no dependencies (so it builds offline), rel/env.sh.eex sourcing the mesh's env.sh, and
// config/runtime.exs holding the snippet from libcluster.exs's header exactly as a user copies it.
// Also the host-side helpers of release.test.ts: listening sockets, and `bin/demo remote` under a terminal.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'

import type {Lab} from './harness.js'

const run = promisify(execFile)

export const REL_NAME = 'demo'

const MIX_EXS = `defmodule Demo.MixProject do
  use Mix.Project

  def project do
    [app: :demo, version: "0.1.0", elixir: "~> 1.14", deps: [], releases: [demo: [include_executables_for: [:unix]]]]
  end

  def application, do: [extra_applications: [:logger]]
end
`

/** The runtime.exs snippet from the rendered libcluster.exs header: the "#   " lines after "Load it". */
export function runtimeSnippet(libclusterExs: string): string {
  const lines = libclusterExs.split('\n')
  const from = lines.findIndex((l) => l.startsWith('#   if config_env()'))
  const to = lines.findIndex((l, i) => i > from && l === '#   end')
  if (from < 0 || to < 0) throw new Error('libcluster.exs has no runtime.exs snippet in its header')
  return lines.slice(from, to + 1).map((l) => l.slice(4)).join('\n')
}

/** A mix environment that never reaches the network or the operator's ~/.mix. */
export function mixEnv(dir: string, env: 'prod' | 'dev' = 'prod'): NodeJS.ProcessEnv {
  return {PATH: process.env.PATH, HOME: dir, MIX_HOME: join(dir, '.mix'), HEX_OFFLINE: '1', MIX_ENV: env, LANG: 'C.UTF-8'}
}

/** Writes the project into `dir` and builds it; returns the release root (bin/demo, releases/, …). */
export async function buildRelease(dir: string, envShPath: string, snippet: string): Promise<string> {
  mkdirSync(join(dir, 'lib'), {recursive: true})
  mkdirSync(join(dir, 'rel'), {recursive: true})
  mkdirSync(join(dir, 'config'), {recursive: true})
  writeFileSync(join(dir, 'mix.exs'), MIX_EXS)
  writeFileSync(join(dir, 'lib', 'demo.ex'), 'defmodule Demo do\nend\n')
  // What the README tells users to put in rel/env.sh.eex.
  writeFileSync(join(dir, 'rel', 'env.sh.eex'), `#!/bin/sh\n. ${envShPath}\n`)
  writeFileSync(join(dir, 'config', 'runtime.exs'), `import Config\n\n${snippet}\n`)
  await run('mix', ['release', '--quiet', '--overwrite'], {cwd: dir, env: mixEnv(dir), timeout: 600_000})
  return join(dir, '_build', 'prod', 'rel', REL_NAME)
}

/** `mix run` in `env` with the same project: the snippet must not crash where the file is missing. */
export async function mixRun(dir: string, env: 'prod' | 'dev', expr: string) {
  return run('mix', ['run', '--no-start', '-e', expr], {cwd: dir, env: mixEnv(dir, env), timeout: 600_000})
}

/** A shell script on the lab host; values as positional parameters ($1…). */
async function sh(lab: Lab, host: string, script: string, args: string[] = [], timeoutMs = 120_000) {
  const r = await lab.exec(host, ['sh', '-c', script, 'sh', ...args], {timeoutMs})
  return {status: r.status, out: r.stdout, err: r.stderr}
}

/** Listening TCP sockets in the host's namespace: [address, port, process]. */
export async function listeners(lab: Lab, host: string): Promise<[string, number, string][]> {
  const out = (await sh(lab, host, 'ss -Hltnp')).out
  return out.split('\n').filter(Boolean).map((l) => {
    const cols = l.trim().split(/\s+/)
    const local = cols[3]
    const at = local.lastIndexOf(':')
    return [local.slice(0, at).replace(/^\[|\]$/g, ''), Number(local.slice(at + 1)), /\(\("([^"]+)"/.exec(l)?.[1] ?? '?']
  })
}

/** Only mesh and loopback addresses: never a public (lab bridge) or wildcard listener. */
export function assertPrivate(host: string, ls: [string, number, string][], mesh: string[], what: string) {
  for (const [addr, port, proc] of ls) {
    if (proc === 'sshd') continue // the lab's own way in
    assert.ok([...mesh, '127.0.0.1', '::1'].includes(addr), `${host} ${what}: ${proc} listens on ${addr}:${port}`)
  }
}

/**
 * `bin/demo remote` needs a terminal (on a pipe IEx ignores --remsh): run it under script(1), type one
 * expression once the prompt shows, wait for its answer, then end the session (bounded waits throughout).
 */
export async function remoteShell(lab: Lab, host: string, root: string, tmp: string): Promise<string> {
  // IEx now and then decides the terminal does not work (a heavily loaded machine) and starts its limited
  // shell, which ignores --remsh: that says nothing about the release, so try again (bounded).
  let out = ''
  for (let i = 0; i < 3; i++) {
    out = await remoteShellOnce(lab, host, root, tmp)
    if (!out.includes('running on limited shell')) break
  }
  return out
}

async function remoteShellOnce(lab: Lab, host: string, root: string, tmp: string): Promise<string> {
  // Without TERM the Erlang terminal cannot start either, and IEx falls back to the same limited shell.
  const script = `export RELEASE_TMP="$1" TERM=xterm; cd "$2"
d=$(mktemp -d); mkfifo "$d/in"
script -qfec "bin/demo remote" /dev/null <"$d/in" >"$d/out" 2>&1 & sp=$!
exec 3>"$d/in"
i=0; until grep -q 'iex(' "$d/out" || [ $i -ge 240 ]; do sleep 0.5; i=$((i+1)); done
printf 'IO.puts("remote-on-" <> to_string(node()))\\n' >&3
i=0; until grep -q 'remote-on-[a-z]' "$d/out" || [ $i -ge 240 ]; do sleep 0.5; i=$((i+1)); done
kill $sp 2>/dev/null; exec 3>&-; wait $sp 2>/dev/null
cat "$d/out"; rm -rf "$d"`
  return (await sh(lab, host, script, [tmp, root], 300_000)).out
}
