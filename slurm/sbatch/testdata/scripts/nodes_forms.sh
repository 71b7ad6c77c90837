#!/bin/bash
#SBATCH -N 1k-2k
srun ./a.out
