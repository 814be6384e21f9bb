// Registers tsx, resolved from the CLI's own location rather than the cwd.
import "tsx";
