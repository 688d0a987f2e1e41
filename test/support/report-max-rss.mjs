// Preloaded (`node --import`) into a process whose peak memory a test or bench reads: on exit it writes
// `max-rss-kib N` to stderr. Plain JavaScript on purpose: the measured process loads no TypeScript hooks.
process.on('exit', () => {
  process.stderr.write(`\nmax-rss-kib ${process.resourceUsage().maxRSS}\n`)
})
