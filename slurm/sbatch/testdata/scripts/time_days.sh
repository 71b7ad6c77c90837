#!/bin/bash
#SBATCH --time=2-12:30
#SBATCH --time-min=1-0
srun ./a.out
