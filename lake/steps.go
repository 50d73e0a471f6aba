package lake

// Step is a step of a run once its inputs are read: a store's load, a
// dataset's merge, the sessions' build. Each can take a while (the sessions
// of 10M events: half a minute), so a progress line names it.
type Step string

const (
	StepStore    Step = "storing the events"
	StepMerge    Step = "merging each partition's parts"
	StepSessions Step = "building the sessions (credential lineage)"
)

// OnStep is called as each step begins: to show it, or to make room for
// it (memory the step will want). Nil calls nothing.
type OnStep func(Step)

func (f OnStep) begin(s Step) {
	if f != nil {
		f(s)
	}
}
