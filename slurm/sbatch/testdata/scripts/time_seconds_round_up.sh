#!/bin/bash
#SBATCH --time=0:30
srun ./a.out
