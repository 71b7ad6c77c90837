package gateway

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sta-federation/sta-gateway/gateway/api"
)

// openAPI builds the OpenAPI 3.1 document of the API from the route table and
// the wire types of package api (by reflection: a field added to a type is in
// the document at once). Struct schemas list their non-omitempty fields as
// required and allow no other properties; pointer fields may be null.
func (g *Gateway) openAPI() map[string]any {
	schemas := map[string]any{}
	paths := map[string]any{}
	errRef := schemaOf(reflect.TypeOf(api.Error{}), schemas)
	pathParam := regexp.MustCompile(`\{([a-z_]+)\}`)
	for _, rt := range g.routes() {
		op := map[string]any{
			"summary":     rt.summary,
			"operationId": operationID(rt.method, rt.path),
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
				"schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			p := map[string]any{"name": q.name, "in": "query", "required": false, "schema": map[string]any{"type": q.typ}}
			if q.doc != "" {
				p["description"] = q.doc
			}
			params = append(params, p)
		}
		if rt.method == "POST" && rt.path == "/v1/jobs" {
			params = append(params, map[string]any{"name": api.HeaderIdempotencyKey, "in": "header", "required": false,
				"schema": map[string]any{"type": "string", "maxLength": 200}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.body), schemas)}}}
		}
		ok := map[string]any{"description": http.StatusText(rt.status)}
		switch {
		case rt.reply != nil:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.reply), schemas)}}
		case rt.contentType == "application/json":
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		default:
			ok["content"] = map[string]any{rt.contentType: map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		responses := map[string]any{strconv.Itoa(rt.status): ok}
		if rt.path == "/v1/jobs" && rt.method == "POST" {
			responses["200"] = ok
		}
		if rt.contentType != "text/plain" {
			responses["default"] = map[string]any{"description": "An error, with the HTTP status of its code.",
				"content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
		} else {
			responses["503"] = map[string]any{"description": "Not healthy or not ready, and why.",
				"content": map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}}
		}
		op["responses"] = responses
		if rt.public {
			op["security"] = []any{}
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "STA Gateway API", "version": Version,
			"description": "Federated Slurm job submission, routing and core-hour accounting. Every request but the public ones " +
				"carries Authorization: Bearer TOKEN and names the user it acts for in " + api.HeaderActAs + "."},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
			},
		},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
}

// operationID names a route: "POST /v1/jobs/{id}/cancel" -> "post_jobs_id_cancel".
func operationID(method, path string) string {
	p := strings.NewReplacer("/v1/", "", "{", "", "}", "", "/", "_", ".", "_").Replace(path)
	return strings.ToLower(method) + "_" + strings.Trim(p, "_")
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
)

// schemaOf returns the JSON Schema of t; named structs go to schemas and are
// referenced.
func schemaOf(t reflect.Type, schemas map[string]any) map[string]any {
	switch {
	case t == rawJSONType:
		return map[string]any{"description": "any JSON value"}
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == reflect.TypeOf(api.JobState("")):
		enum := make([]any, len(api.States))
		for i, s := range api.States {
			enum[i] = string(s)
		}
		return map[string]any{"type": "string", "enum": enum}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := schemaOf(t.Elem(), schemas)
		return map[string]any{"oneOf": []any{s, map[string]any{"type": "null"}}}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), schemas)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), schemas)}
	case reflect.Struct:
		name := t.Name()
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		if _, done := schemas[name]; done {
			return ref
		}
		schemas[name] = nil // a placeholder against recursion
		props := map[string]any{}
		var required []string
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			fname, opts, _ := strings.Cut(tag, ",")
			if fname == "" {
				fname = f.Name
			}
			props[fname] = schemaOf(f.Type, schemas)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, fname)
			}
		}
		sort.Strings(required)
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		schemas[name] = s
		return ref
	}
	return map[string]any{}
}
