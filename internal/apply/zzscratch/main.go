package main

import (
	"encoding/json"
	"fmt"
	"os"

	"edgecert/internal/plan"
	"edgecert/internal/topology"
)

func main() {
	t, err := topology.Load(os.Args[1], "")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	p, err := plan.Build(t)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for _, c := range p.Certificates {
		c.Names = nil
		c.Rules = nil
		b, _ := json.Marshal(c)
		fmt.Println(string(b))
	}
}
