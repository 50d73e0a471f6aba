package integrity

import (
	"encoding/json"
	"testing"
)

func TestNarrowing(t *testing.T) {
	tests := []struct {
		name, params, want string
	}{
		{"all events", `{"trailName":"t","eventSelectors":[{"readWriteType":"All","includeManagementEvents":true,"dataResources":[]}]}`, ""},
		{"write only", `{"trailName":"t","eventSelectors":[{"readWriteType":"WriteOnly","includeManagementEvents":true}]}`, "readWriteType WriteOnly"},
		{"management off", `{"eventSelectors":[{"readWriteType":"All","includeManagementEvents":false}]}`, "management events off"},
		{"excluded sources", `{"eventSelectors":[{"readWriteType":"All","includeManagementEvents":true,"excludeManagementEventSources":["kms.amazonaws.com"]}]}`, "management events excluded from kms.amazonaws.com"},
		{"nothing", `{"eventSelectors":[]}`, "no selectors: nothing selected"},
		{"advanced management", `{"advancedEventSelectors":[{"name":"m","fieldSelectors":[{"field":"eventCategory","equals":["Management"]}]}]}`, ""},
		{"advanced data only", `{"advancedEventSelectors":[{"fieldSelectors":[{"field":"eventCategory","equals":["Data"]},{"field":"resources.type","equals":["AWS::S3::Object"]}]}]}`, "no advanced selector for management events"},
		{"advanced exclusion", `{"advancedEventSelectors":[{"fieldSelectors":[{"field":"eventCategory","equals":["Management"]},{"field":"eventSource","notEquals":["iam.amazonaws.com"]}]}]}`, "advanced selector excludes some eventSource values"},
		{"advanced read only", `{"advancedEventSelectors":[{"fieldSelectors":[{"field":"eventCategory","equals":["Management"]},{"field":"readOnly","equals":["true"]}]}]}`, "advanced selector logs only readOnly=true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rp map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tt.params), &rp); err != nil {
				t.Fatal(err)
			}
			if got := narrowing(rp); got != tt.want {
				t.Errorf("narrowing = %q, want %q", got, tt.want)
			}
		})
	}
}
