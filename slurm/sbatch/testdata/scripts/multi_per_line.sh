#!/bin/bash
#SBATCH --nodes=1 --ntasks=1 --cpus-per-task=12
#SBATCH --job-name=compiler_batch --partition=standard --time=0-00:20:00
#SBATCH --export=NONE --array=0-399
make -j12
