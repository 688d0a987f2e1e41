// ssh2, loaded on first use. Loading it takes ~80 ms; connect() opens its TCP connection before, so the host's
// sshd starts up while the module loads instead of after.

/** A CommonJS package: node hands its exports over as the default export. */
const load = () => import('ssh2').then((m) => m.default)

let loading: ReturnType<typeof load> | undefined

export function loadSsh2(): ReturnType<typeof load> {
  return (loading ??= load())
}
