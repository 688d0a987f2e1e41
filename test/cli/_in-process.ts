// Runs the built CLI's commands inside this process, through oclif's own `run` with the package's config and
// manifest: the same command classes, flag parsing, error handling and exit codes as bin/run.js, without a
// process start per call (~1 s of CPU each). For corpora of many cases; a few of them still go through the binary.
import {Errors, run} from '@oclif/core'

import {ROOT} from './_cli.js'

export interface InProcessRun {
  code: number
  stdout: string
  stderr: string
}

let queue: Promise<unknown> = Promise.resolve()

/** One at a time: stdout, stderr and process.exitCode are process-wide. */
export function meshInProcess(args: string[]): Promise<InProcessRun> {
  const next = queue.then(() => runCaptured(args))
  queue = next.catch(() => undefined)
  return next
}

async function runCaptured(args: string[]): Promise<InProcessRun> {
  const out: string[] = []
  const err: string[] = []
  const writeOut = process.stdout.write.bind(process.stdout)
  const writeErr = process.stderr.write.bind(process.stderr)
  const capture = (into: string[]) => ((chunk: string | Uint8Array) => {
    into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
    return true
  }) as typeof process.stdout.write
  const noColor = process.env.NO_COLOR
  const exitCodeBefore = process.exitCode
  process.env.NO_COLOR = '1'
  process.exitCode = undefined
  process.stdout.write = capture(out)
  process.stderr.write = capture(err)
  let code: number
  try {
    await run(args, ROOT)
    code = Number(process.exitCode ?? 0)
  } catch (error) {
    // What bin/run.js's error handler does with the same error: an ExitError carries its code; anything else is
    // printed and exits 1 (shown here so a crash reads as one).
    const exit = (error as {oclif?: {exit?: number}}).oclif?.exit
    if (error instanceof Errors.ExitError || typeof exit === 'number') code = exit ?? 1
    else {
      err.push(String((error as Error).stack ?? error))
      code = 1
    }
  } finally {
    process.stdout.write = writeOut
    process.stderr.write = writeErr
    process.exitCode = exitCodeBefore
    if (noColor === undefined) delete process.env.NO_COLOR
    else process.env.NO_COLOR = noColor
  }
  return {code, stdout: out.join(''), stderr: err.join('')}
}
