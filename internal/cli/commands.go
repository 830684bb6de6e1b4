package cli

// commands is the command table. Each entry's Run lives in the file named after it.
var commands []Command

func init() {
	commands = []Command{}
}
