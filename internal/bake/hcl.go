package bake

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/docker/buildx/bake/hclparser"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var (
	_ hclparser.WithEvalContexts = &Target{}
	_ hclparser.WithGetName      = &Target{}
	_ hclparser.WithBlockSource  = &Target{}
	_ hclparser.WithEvalContexts = &Group{}
	_ hclparser.WithGetName      = &Group{}
)

const validTargetNameChars = `[a-zA-Z0-9_-]+`

var targetNamePattern = regexp.MustCompile(`^` + validTargetNameChars + `$`)

func validateTargetName(name string) error {
	if !targetNamePattern.MatchString(name) {
		return fmt.Errorf("only %q are allowed", validTargetNameChars)
	}
	return nil
}

// sanitizeTargetName replaces the dots a compose service name may hold.
func sanitizeTargetName(name string) string { return strings.ReplaceAll(name, ".", "_") }

// parseHCLFile parses a .hcl or .json file; another name is tried as HCL, then as JSON.
// isHCL is false when it is neither.
func parseHCLFile(data []byte, name string) (f *hcl.File, isHCL bool, err error) {
	p := hclparse.NewParser()
	var diags hcl.Diagnostics
	switch {
	case strings.HasSuffix(name, ".json"):
		f, diags = p.ParseJSON(data, name)
	case strings.HasSuffix(name, ".hcl"):
		f, diags = p.ParseHCL(data, name)
	default:
		f, diags = p.ParseHCL(data, name+".hcl")
		if diags.HasErrors() {
			f2, diags2 := hclparse.NewParser().ParseJSON(data, name+".json")
			if !diags2.HasErrors() {
				return f2, true, nil
			}
			return nil, false, diags
		}
	}
	if diags.HasErrors() {
		return f, true, diags
	}
	return f, true, nil
}

// SetBlockSource records the file the target block is in.
func (t *Target) SetBlockSource(block *hcl.Block) { t.File = block.DefRange.Filename }

// GetEvalContexts makes one evaluation context per combination of the target's matrix
// values (one context when it has no matrix).
func (t *Target) GetEvalContexts(ectx *hcl.EvalContext, block *hcl.Block, loadDeps func(hcl.Expression) hcl.Diagnostics) ([]*hcl.EvalContext, error) {
	content, _, diags := block.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "matrix"}}})
	if diags.HasErrors() {
		return nil, diags
	}
	attr, ok := content.Attributes["matrix"]
	if !ok {
		return []*hcl.EvalContext{ectx}, nil
	}
	if diags := loadDeps(attr.Expr); diags.HasErrors() {
		return nil, diags
	}
	value, diags := attr.Expr.Value(ectx)
	if diags.HasErrors() {
		return nil, diags
	}
	if !value.Type().IsMapType() && !value.Type().IsObjectType() {
		return nil, errors.New("matrix must be a map")
	}
	// buildx walks the keys in Go's random map order, so the order of the targets a
	// multi-key matrix makes varies between its runs; hush walks them sorted.
	matrix := value.AsValueMap()
	ectxs := []*hcl.EvalContext{ectx}
	for _, k := range slices.Sorted(maps.Keys(matrix)) {
		values := matrix[k]
		if !values.CanIterateElements() {
			return nil, errors.New("matrix values must be a list")
		}
		var next []*hcl.EvalContext
		for _, v := range values.AsValueSlice() {
			for _, e := range ectxs {
				e2 := ectx.NewChild()
				e2.Variables = map[string]cty.Value{}
				if e != ectx {
					maps.Copy(e2.Variables, e.Variables)
				}
				e2.Variables[k] = v
				next = append(next, e2)
			}
		}
		ectxs = next
	}
	return ectxs, nil
}

// GetName is the block's label, or its `name` expression when it has a matrix.
func (t *Target) GetName(ectx *hcl.EvalContext, block *hcl.Block, loadDeps func(hcl.Expression) hcl.Diagnostics) (string, error) {
	content, _, diags := block.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "name"}, {Name: "matrix"}}})
	if diags != nil {
		return "", diags
	}
	attr, ok := content.Attributes["name"]
	if !ok {
		return block.Labels[0], nil
	}
	if _, ok := content.Attributes["matrix"]; !ok {
		return "", errors.New("name requires matrix")
	}
	if diags := loadDeps(attr.Expr); diags.HasErrors() {
		return "", diags
	}
	value, diags := attr.Expr.Value(ectx)
	if diags != nil {
		return "", diags
	}
	value, err := convert.Convert(value, cty.String)
	if err != nil {
		return "", err
	}
	return value.AsString(), nil
}

// GetEvalContexts refuses a matrix on a group.
func (g *Group) GetEvalContexts(ectx *hcl.EvalContext, block *hcl.Block, _ func(hcl.Expression) hcl.Diagnostics) ([]*hcl.EvalContext, error) {
	content, _, diags := block.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "matrix"}}})
	if diags.HasErrors() {
		return nil, diags
	}
	if _, ok := content.Attributes["matrix"]; ok {
		return nil, errors.New("matrix is not supported for groups")
	}
	return []*hcl.EvalContext{ectx}, nil
}

// GetName is the block's label; a group has no name or matrix attribute.
func (g *Group) GetName(_ *hcl.EvalContext, block *hcl.Block, _ func(hcl.Expression) hcl.Diagnostics) (string, error) {
	content, _, diags := block.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "name"}, {Name: "matrix"}}})
	if diags != nil {
		return "", diags
	}
	if _, ok := content.Attributes["name"]; ok {
		return "", errors.New("name is not supported for groups")
	}
	if _, ok := content.Attributes["matrix"]; ok {
		return "", errors.New("matrix is not supported for groups")
	}
	return block.Labels[0], nil
}
