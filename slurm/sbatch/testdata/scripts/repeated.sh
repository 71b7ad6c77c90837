#!/bin/bash
#SBATCH -J first -J second
#SBATCH --time=10
#SBATCH --time=20
#SBATCH -N 1 --nodes=3
#SBATCH --exclusive
#SBATCH --oversubscribe
#SBATCH --requeue --no-requeue
#SBATCH --mail-type=BEGIN --mail-type=NONE
#SBATCH --mail-type=TIME_LIMIT_80,array_tasks
#SBATCH --ntasks-per-node=2 --tasks-per-node=3
srun ./a.out
