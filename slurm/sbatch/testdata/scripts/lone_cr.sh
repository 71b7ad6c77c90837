#!/bin/bash
#SBATCH --time=10 --nodes=2
srun ./a.out
