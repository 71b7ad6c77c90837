#!/bin/bash
#SBATCH -N 2 foo -c 3
srun ./a.out
