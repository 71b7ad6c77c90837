#!/bin/bash
#SBATCH -N 3 hetjob -c 2
#SBATCH -t 5
srun ./a.out
