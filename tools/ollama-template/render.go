// Renders an Ollama Modelfile TEMPLATE with Go's text/template, the engine Ollama runs templates with, over the
// values Ollama gives a chat template (.Messages with .Role and .Content, .System), for the GGUF export tests:
// go run render.go < {"template": "...", "messages": [{"role": "user", "content": "..."}]}; prints the prompt.
package main

import (
	"encoding/json"
	"os"
	"text/template"
)

type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type Values struct {
	Messages []Message
	System   string
	Prompt   string
}

func main() {
	var in struct {
		Template string    `json:"template"`
		Messages []Message `json:"messages"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	t := template.Must(template.New("modelfile").Parse(in.Template))
	v := Values{Messages: in.Messages}
	for _, m := range in.Messages {
		if m.Role == "system" {
			v.System = m.Content
		}
	}
	if err := t.Execute(os.Stdout, v); err != nil {
		panic(err)
	}
}
