// Command gitops-gotemplate evaluates ApplicationSet templates with Go's
// text/template and the Sprig functions, the way Argo CD's ApplicationSet
// controller does (applicationset/utils: sprig.GenericFuncMap without env,
// expandenv and getHostByName, plus normalize, toYaml, fromYaml and
// fromYamlArray), so gitops.kubernetes renders `goTemplate: true` exactly.
//
// It reads one JSON request on stdin and writes one JSON answer on stdout:
//
//	{"options": ["missingkey=error"],
//	 "jobs": [{"tree": <any JSON>, "params": {...}, "keepMissing": false}, ...]}
//	-> {"results": [<tree with every string and map key rendered>, ...]}
//	-> {"error": {"job": 3, "message": "..."}}  (the first failing job)
//
// Every string of a tree is its own template, as in Argo CD; a job with empty
// params returns its tree unchanged; null map values are dropped. With
// keepMissing, a string whose template misses a key (missingkey=error) is kept
// as it was: Argo CD resolves a nested generator's values that way.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

type job struct {
	Tree        any            `json:"tree"`
	Params      map[string]any `json:"params"`
	KeepMissing bool           `json:"keepMissing"`
}

type request struct {
	Options []string `json:"options"`
	Jobs    []job    `json:"jobs"`
}

type failure struct {
	Job     int    `json:"job"`
	Message string `json:"message"`
}

type answer struct {
	Results []any    `json:"results,omitempty"`
	Error   *failure `json:"error,omitempty"`
}

var invalidDNSNameChars = regexp.MustCompile("[^-a-z0-9.]")

// sanitizeName is Argo CD's `normalize`: lowercase, DNS-safe, at most 253 characters.
func sanitizeName(name string) string {
	name = invalidDNSNameChars.ReplaceAllString(strings.ToLower(name), "-")
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.Trim(name, "-.")
}

func toYAML(v any) (string, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

func fromYAML(str string) (map[string]any, error) {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(str), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func fromYAMLArray(str string) ([]any, error) {
	a := []any{}
	if err := yaml.Unmarshal([]byte(str), &a); err != nil {
		return nil, err
	}
	return a, nil
}

func slugify(args ...any) (string, error) {
	return "", errors.New("slugify is not supported by gitops.kubernetes (it needs Argo CD's transliteration tables); use normalize")
}

func baseTemplate() *template.Template {
	funcs := sprig.GenericFuncMap()
	// Argo CD removes these so a template cannot learn about the machine it runs on
	delete(funcs, "env")
	delete(funcs, "expandenv")
	delete(funcs, "getHostByName")
	funcs["normalize"] = sanitizeName
	funcs["slugify"] = slugify
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["fromYamlArray"] = fromYAMLArray
	return template.New("base").Funcs(funcs)
}

type renderer struct {
	base    *template.Template
	options []string
	strict  []string // options with missingkey=error, for keepMissing jobs
	cache   map[string]*template.Template
}

func (r *renderer) parsed(text string, options []string) (*template.Template, error) {
	key := strings.Join(options, "\x00") + "\x01" + text
	if t, ok := r.cache[key]; ok {
		return t, nil
	}
	cloned, err := r.base.Clone()
	if err != nil {
		return nil, err
	}
	for _, option := range options {
		cloned = cloned.Option(option)
	}
	t, err := cloned.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("failed to parse template %s: %w", text, err)
	}
	r.cache[key] = t
	return t, nil
}

func (r *renderer) replace(text string, params map[string]any, keepMissing bool) (string, error) {
	options := r.options
	if keepMissing {
		options = r.strict
	}
	t, err := r.parsed(text, options)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	if err := t.Execute(&out, params); err != nil {
		msg := err.Error()
		if keepMissing && (strings.Contains(msg, "map has no entry for key") || strings.Contains(msg, "can't evaluate field")) {
			return text, nil
		}
		return "", fmt.Errorf("failed to execute go template %s: %w", text, err)
	}
	return out.String(), nil
}

func (r *renderer) walk(node any, params map[string]any, keepMissing bool) (any, error) {
	switch value := node.(type) {
	case string:
		return r.replace(value, params, keepMissing)
	case []any:
		out := make([]any, len(value))
		for i, item := range value {
			rendered, err := r.walk(item, params, keepMissing)
			if err != nil {
				return nil, err
			}
			out[i] = rendered
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(value))
		for key, item := range value {
			if item == nil {
				continue
			}
			rendered, err := r.walk(item, params, keepMissing)
			if err != nil {
				return nil, err
			}
			renderedKey, err := r.replace(key, params, keepMissing)
			if err != nil {
				return nil, err
			}
			out[renderedKey] = rendered
		}
		return out, nil
	default:
		return value, nil
	}
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "gitops-gotemplate: invalid request: %v\n", err)
		os.Exit(2)
	}
	strict := []string{}
	for _, option := range req.Options {
		if !strings.HasPrefix(option, "missingkey=") {
			strict = append(strict, option)
		}
	}
	strict = append(strict, "missingkey=error")
	r := &renderer{base: baseTemplate(), options: req.Options, strict: strict, cache: map[string]*template.Template{}}
	ans := answer{Results: make([]any, 0, len(req.Jobs))}
	for i, j := range req.Jobs {
		if len(j.Params) == 0 {
			ans.Results = append(ans.Results, j.Tree)
			continue
		}
		rendered, err := r.walk(j.Tree, j.Params, j.KeepMissing)
		if err != nil {
			ans = answer{Error: &failure{Job: i, Message: err.Error()}}
			break
		}
		ans.Results = append(ans.Results, rendered)
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(ans); err != nil {
		fmt.Fprintf(os.Stderr, "gitops-gotemplate: %v\n", err)
		os.Exit(2)
	}
}
