#!/usr/bin/env node
// The execute entry alone: the full @oclif/core index also loads help and ux code most runs never use.
import {execute} from '@oclif/core/execute'

await execute({dir: import.meta.url})
