// Command nimara runs the Port Nimara CRM's Go worker fleet and its admin commands.
package main

import "os"

func main() {
	os.Exit(Main())
}
