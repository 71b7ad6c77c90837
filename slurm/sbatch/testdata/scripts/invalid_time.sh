#!/bin/bash
#SBATCH --nodes=1
#SBATCH --time=1:2:3:4
srun ./a.out
