// The help of every mesh command (`mesh help <cmd>`, `mesh <cmd> --help`): oclif's, plus an EXIT CODES section
// from the command's static `exitCodes`, so scripts can rely on the codes without reading the README.
import {Command, CommandHelp, Help} from '@oclif/core'

/** Exit code -> what it means for this command. */
export type ExitCodes = Record<number, string>

class MeshCommandHelp extends CommandHelp {
  protected override sections(): ReturnType<CommandHelp['sections']> {
    const sections = super.sections()
    const codes = (this.command as Command.Loadable & {exitCodes?: ExitCodes}).exitCodes
    if (!codes) return sections
    const exitSection = {
      header: 'EXIT CODES',
      generate: (_data: unknown, header: string) => [{header, body: Object.entries(codes).map(([code, meaning]): [string, string] => [code, meaning])}],
    }
    // After DESCRIPTION (or at the end when there is none), before the examples.
    const at = sections.findIndex((s) => s.header === 'EXAMPLES')
    return at < 0 ? [...sections, exitSection] : [...sections.slice(0, at), exitSection, ...sections.slice(at)]
  }
}

export default class MeshHelp extends Help {
  protected override CommandHelpClass = MeshCommandHelp
}
