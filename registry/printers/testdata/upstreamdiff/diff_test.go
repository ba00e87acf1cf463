// Differential test of skiff's printers against upstream Kubernetes 1.37's.
// It lives in testdata because it needs k8s.io/kubernetes, which skiff's
// module does not require; run.sh builds a throwaway module around it.
package upstreamdiff

import (
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"reflect"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	apitesting "k8s.io/kubernetes/pkg/api/testing"
	_ "k8s.io/kubernetes/pkg/apis/admissionregistration/install"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	_ "k8s.io/kubernetes/pkg/apis/autoscaling/install"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	_ "k8s.io/kubernetes/pkg/apis/certificates/install"
	_ "k8s.io/kubernetes/pkg/apis/coordination/install"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	_ "k8s.io/kubernetes/pkg/apis/discovery/install"
	_ "k8s.io/kubernetes/pkg/apis/events/install"
	_ "k8s.io/kubernetes/pkg/apis/flowcontrol/install"
	_ "k8s.io/kubernetes/pkg/apis/networking/install"
	_ "k8s.io/kubernetes/pkg/apis/node/install"
	_ "k8s.io/kubernetes/pkg/apis/policy/install"
	_ "k8s.io/kubernetes/pkg/apis/rbac/install"
	_ "k8s.io/kubernetes/pkg/apis/resource/install"
	_ "k8s.io/kubernetes/pkg/apis/scheduling/install"
	_ "k8s.io/kubernetes/pkg/apis/storage/install"
	_ "k8s.io/kubernetes/pkg/apis/storagemigration/install"
	k8sprinters "k8s.io/kubernetes/pkg/printers"
	printersinternal "k8s.io/kubernetes/pkg/printers/internalversion"
	printerstorage "k8s.io/kubernetes/pkg/printers/storage"

	"upstreamdiff/printers"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func asJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAgainstUpstream fills random internal objects of every printed kind
// (and their lists), converts them to v1 (what skiff stores) and back to
// internal (what upstream prints), and compares both tables: columns, list
// metadata, cells and row conditions.
func TestAgainstUpstream(t *testing.T) {
	seed, iterations := envInt("SEED", 1), envInt("ITERATIONS", 500)
	upstream := printerstorage.TableConvertor{TableGenerator: k8sprinters.NewTableGenerator().With(printersinternal.AddHandlers)}
	f := fuzzer.FuzzerFor(apitesting.FuzzerFuncs, rand.NewSource(int64(seed)), legacyscheme.Codecs).NilChance(0.2).NumElements(0, 4)
	for gr := range printers.PrintedResources() {
		version := "v1"
		if gr.Group == "autoscaling" {
			version = "v2"
		}
		gv := schema.GroupVersion{Group: gr.Group, Version: version}
		var kind string
		for k := range clientgoscheme.Scheme.KnownTypes(gv) {
			if plural, _ := meta.UnsafeGuessKindToResource(gv.WithKind(k)); plural.Resource == gr.Resource {
				kind = k
			}
		}
		internalGV := schema.GroupVersion{Group: gr.Group, Version: runtime.APIVersionInternal}
		for _, k := range []string{kind, kind + "List"} {
			t.Run(gr.String()+"/"+k, func(t *testing.T) {
				mismatches, compared := 0, 0
				for i := 0; i < iterations; i++ {
					random, err := legacyscheme.Scheme.New(internalGV.WithKind(k))
					if err != nil {
						// events.k8s.io is printed through core's internal Event.
						if random, err = legacyscheme.Scheme.New(schema.GroupVersion{Version: runtime.APIVersionInternal}.WithKind(k)); err != nil {
							t.Fatal(err)
						}
					}
					f.Fill(random)
					shapeKnown(reflect.ValueOf(random), rand.New(rand.NewSource(int64(i))))
					shapePods(random, rand.New(rand.NewSource(int64(i))))
					v1obj, err := clientgoscheme.Scheme.New(gv.WithKind(k))
					if err != nil {
						t.Fatal(err)
					}
					if err := legacyscheme.Scheme.Convert(random, v1obj, nil); err != nil {
						continue
					}
					internal, err := legacyscheme.Scheme.ConvertToVersion(v1obj.DeepCopyObject(), internalGV)
					if err != nil {
						t.Fatalf("to internal: %v", err)
					}
					want, werr := upstream.ConvertToTable(context.Background(), internal, nil)
					got, gerr := printers.NewTableConvertor(gr).ConvertToTable(context.Background(), v1obj, &metav1.TableOptions{})
					if (werr != nil) != (gerr != nil) {
						t.Errorf("errors differ: upstream %v, skiff %v", werr, gerr)
						continue
					}
					if werr != nil {
						continue
					}
					compared++
					if !reflect.DeepEqual(want.ColumnDefinitions, got.ColumnDefinitions) {
						t.Fatalf("columns differ:\nupstream %s\nskiff    %s", asJSON(t, want.ColumnDefinitions), asJSON(t, got.ColumnDefinitions))
					}
					if w, g := asJSON(t, want.ListMeta), asJSON(t, got.ListMeta); w != g {
						t.Errorf("list meta differs: %s vs %s", w, g)
					}
					if len(want.Rows) != len(got.Rows) {
						t.Fatalf("rows %d vs %d", len(want.Rows), len(got.Rows))
					}
					for r := range want.Rows {
						// JSON makes upstream's int32 cells and skiff's int64 ones equal, as on the wire.
						w := asJSON(t, []any{want.Rows[r].Cells, want.Rows[r].Conditions})
						g := asJSON(t, []any{got.Rows[r].Cells, got.Rows[r].Conditions})
						if w != g {
							if mismatches++; mismatches <= 3 {
								t.Errorf("row differs:\nupstream %s\nskiff    %s\nobject %s", w, g, asJSON(t, v1obj))
							}
						}
					}
				}
				if compared < iterations/2 {
					t.Errorf("only %d of %d objects compared", compared, iterations)
				}
				if mismatches > 0 {
					t.Errorf("%d mismatching rows", mismatches)
				}
			})
		}
	}
}
