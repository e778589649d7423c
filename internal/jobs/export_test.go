package jobs

// NewWorkerFor is NewWorker for tasks instead of Tasks: the scheduler's
// tests give it tasks of their own.
var NewWorkerFor = newWorker
