// Command vulnerable exists to be flagged: it calls language.Parse from a
// golang.org/x/text version with a known vulnerability in it (GO-2021-0113),
// so the vulnerability scan shows that it fails on a called vulnerability.
package main

import (
	"fmt"
	"os"

	"golang.org/x/text/language"
)

func main() {
	tag, err := language.Parse(os.Args[len(os.Args)-1])
	fmt.Println(tag, err)
}
