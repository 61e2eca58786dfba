module gosyncbench

go 1.19
