module gitops.kubernetes/benchmarks/floor

go 1.22
