// Which pushed branches start a repository's pipeline: a comma-separated list of globs
// (`main`, `release/*`, `feature/**`): `*` and `?` stay within one path segment, `**` crosses
// segments. Empty matches every branch.
import { InvalidError } from "../errors";

const MAX_GLOB = 200;

export function checkBranchGlob(glob: string): string {
  if (glob.length > MAX_GLOB || /[\s\x00-\x1f\x7f]/.test(glob) || glob.split(",").some((g) => g === "" && glob !== ""))
    throw new InvalidError(
      `invalid --branch '${glob.slice(0, 64)}': comma-separated globs (main, release/*, feature/**), no spaces, at most ${MAX_GLOB} characters`,
    );
  return glob;
}

export function branchMatches(glob: string, branch: string): boolean {
  if (glob === "") return true;
  return glob.split(",").some((g) => globRegex(g).test(branch));
}

function globRegex(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
